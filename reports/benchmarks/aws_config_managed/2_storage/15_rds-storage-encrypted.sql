/* +++
id = "rds-storage-encrypted"
title = "RDS instances encrypt their storage"
severity = "medium"
tags = { identifier = "RDS_STORAGE_ENCRYPTED" }
sql = "cis_aws_v3/2.3.1"
+++ */
