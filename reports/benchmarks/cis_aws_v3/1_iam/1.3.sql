/* +++
id = "1.3"
title = "Ensure security questions are registered in the AWS account"
severity = "low"
tags = { cis_v3 = "1.3", level = "1", type = "manual" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'security questions live in the AWS console or the account settings, which neither AWS Config nor CloudTrail record' AS reason
