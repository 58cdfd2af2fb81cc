/* +++
id = "rds-instance-public-access-check"
title = "RDS instances are not publicly accessible"
severity = "critical"
tags = { identifier = "RDS_INSTANCE_PUBLIC_ACCESS_CHECK" }
sql = "cis_aws_v3/2.3.3"
+++ */
