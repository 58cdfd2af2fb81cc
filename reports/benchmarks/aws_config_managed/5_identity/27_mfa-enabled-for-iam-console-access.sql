/* +++
id = "mfa-enabled-for-iam-console-access"
title = "IAM users sign in to the console with MFA"
severity = "high"
tags = { identifier = "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS" }
sql = "cis_aws_v3/1.10"
+++ */
