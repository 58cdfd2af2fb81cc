/* +++
id = "multi-region-cloudtrail-enabled"
title = "A multi-region trail logs the account's API calls"
severity = "critical"
tags = { identifier = "MULTI_REGION_CLOUD_TRAIL_ENABLED" }
sql = "cis_aws_v3/3.1"
+++ */
