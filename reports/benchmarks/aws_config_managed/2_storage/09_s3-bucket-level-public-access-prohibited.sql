/* +++
id = "s3-bucket-level-public-access-prohibited"
title = "Buckets block public access"
severity = "high"
tags = { identifier = "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED" }
sql = "cis_aws_v3/2.1.4"
+++ */
