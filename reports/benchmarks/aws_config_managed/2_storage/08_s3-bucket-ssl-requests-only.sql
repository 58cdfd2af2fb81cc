/* +++
id = "s3-bucket-ssl-requests-only"
title = "Bucket policies deny requests without TLS"
severity = "medium"
tags = { identifier = "S3_BUCKET_SSL_REQUESTS_ONLY" }
sql = "cis_aws_v3/2.1.1"
+++ */
