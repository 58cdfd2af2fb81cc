/* +++
id = "1.21"
title = "Ensure IAM users are managed centrally via identity federation or AWS Organizations for multi-account environments"
severity = "low"
tags = { cis_v3 = "1.21", level = "2", type = "manual" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'an organisational decision, not a recorded setting' AS reason
