/* +++
id = "iam-password-policy"
title = "The account password policy requires 14 characters"
severity = "medium"
tags = { identifier = "IAM_PASSWORD_POLICY" }
sql = "cis_aws_v3/1.8"
+++ */
