/* +++
id = "1.11"
title = "Do not setup access keys during initial user setup for all IAM users that have a console password"
severity = "low"
tags = { cis_v3 = "1.11", level = "1", type = "manual" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'needs the IAM credential report (key and password creation times)' AS reason
