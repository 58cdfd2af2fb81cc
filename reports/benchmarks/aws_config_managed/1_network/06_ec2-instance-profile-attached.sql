/* +++
id = "ec2-instance-profile-attached"
title = "Instances have an IAM instance profile"
severity = "low"
tags = { identifier = "EC2_INSTANCE_PROFILE_ATTACHED" }
sql = "cis_aws_v3/1.18"
+++ */
