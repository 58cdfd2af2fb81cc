/* +++
id = "cloud-trail-log-file-validation-enabled"
title = "Trails sign digest files of their logs"
severity = "medium"
tags = { identifier = "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED" }
sql = "cis_aws_v3/3.2"
+++ */
