/* +++
id = "access-keys-rotated"
title = "Active access keys are younger than 90 days"
severity = "medium"
tags = { identifier = "ACCESS_KEYS_ROTATED" }
sql = "cis_aws_v3/1.14"
+++ */
