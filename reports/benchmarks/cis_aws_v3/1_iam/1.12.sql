/* +++
id = "1.12"
title = "Ensure credentials unused for 45 days or greater are disabled"
severity = "medium"
tags = { cis_v3 = "1.12", level = "1", type = "automated" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'needs the IAM credential report (last use of passwords and keys)' AS reason
