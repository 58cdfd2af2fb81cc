/* +++
id = "cloudtrail-enabled"
title = "A trail logs the account's API calls"
severity = "critical"
tags = { identifier = "CLOUD_TRAIL_ENABLED" }
sql = "cis_aws_v3/3.1"
+++ */
