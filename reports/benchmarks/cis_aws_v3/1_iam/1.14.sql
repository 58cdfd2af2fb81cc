/* +++
id = "1.14"
title = "Ensure access keys are rotated every 90 days or less"
severity = "medium"
tags = { cis_v3 = "1.14", level = "1", type = "automated" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'needs the IAM credential report (access key creation dates)' AS reason
