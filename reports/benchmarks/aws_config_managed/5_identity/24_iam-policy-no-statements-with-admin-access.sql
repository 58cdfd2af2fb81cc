/* +++
id = "iam-policy-no-statements-with-admin-access"
title = "Customer managed policies do not allow *:*"
severity = "high"
tags = { identifier = "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS" }
sql = "cis_aws_v3/1.16"
+++ */
