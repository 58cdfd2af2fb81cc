/* +++
id = "vpc-default-security-group-closed"
title = "The default security group of every VPC allows no traffic"
severity = "medium"
tags = { identifier = "VPC_DEFAULT_SECURITY_GROUP_CLOSED" }
sql = "cis_aws_v3/5.4"
+++ */
