/* +++
id = "vpc-flow-logs-enabled"
title = "Every VPC has an active flow log"
severity = "medium"
tags = { identifier = "VPC_FLOW_LOGS_ENABLED" }
sql = "cis_aws_v3/3.7"
+++ */
