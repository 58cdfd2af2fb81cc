/* +++
id = "1.1"
title = "Maintain current contact details"
severity = "low"
tags = { cis_v3 = "1.1", level = "1", type = "manual" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'contact details live in the AWS console or the account settings, which neither AWS Config nor CloudTrail record' AS reason
