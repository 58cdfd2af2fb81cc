/* +++
id = "ec2-imdsv2-check"
title = "Instances require IMDSv2 session tokens"
severity = "medium"
tags = { identifier = "EC2_IMDSV2_CHECK" }
sql = "cis_aws_v3/5.6"
+++ */
