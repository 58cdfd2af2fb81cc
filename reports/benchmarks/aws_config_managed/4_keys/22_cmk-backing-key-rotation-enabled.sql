/* +++
id = "cmk-backing-key-rotation-enabled"
title = "Customer managed KMS keys rotate their key material"
severity = "medium"
tags = { identifier = "CMK_BACKING_KEY_ROTATION_ENABLED" }
sql = "cis_aws_v3/3.6"
+++ */
