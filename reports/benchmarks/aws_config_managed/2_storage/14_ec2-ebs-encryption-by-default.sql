/* +++
id = "ec2-ebs-encryption-by-default"
title = "EBS encryption by default is on in every region"
severity = "medium"
tags = { identifier = "EC2_EBS_ENCRYPTION_BY_DEFAULT" }
sql = "cis_aws_v3/2.2.1"
+++ */
