/* +++
id = "cloud-trail-encryption-enabled"
title = "Trails encrypt their logs with KMS"
severity = "medium"
tags = { identifier = "CLOUD_TRAIL_ENCRYPTION_ENABLED" }
sql = "cis_aws_v3/3.5"
+++ */
