/* +++
id = "root-account-mfa-enabled"
title = "The root user signs in with MFA"
severity = "critical"
tags = { identifier = "ROOT_ACCOUNT_MFA_ENABLED" }
sql = "cis_aws_v3/1.5"
+++ */
