/* +++
id = "1.2"
title = "Ensure security contact information is registered"
severity = "low"
tags = { cis_v3 = "1.2", level = "1", type = "manual" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'alternate contacts live in the AWS console or the account settings, which neither AWS Config nor CloudTrail record' AS reason
