/* +++
id = "iam-root-access-key-check"
title = "The root user has no access key"
severity = "critical"
tags = { identifier = "IAM_ROOT_ACCESS_KEY_CHECK" }
sql = "cis_aws_v3/1.4"
+++ */
