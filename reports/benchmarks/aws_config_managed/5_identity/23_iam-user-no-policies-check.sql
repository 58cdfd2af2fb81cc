/* +++
id = "iam-user-no-policies-check"
title = "IAM users have no policies of their own"
severity = "medium"
tags = { identifier = "IAM_USER_NO_POLICIES_CHECK" }
sql = "cis_aws_v3/1.15"
+++ */
