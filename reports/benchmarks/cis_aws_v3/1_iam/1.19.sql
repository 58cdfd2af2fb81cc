/* +++
id = "1.19"
title = "Ensure that all the expired SSL/TLS certificates stored in AWS IAM are removed"
severity = "medium"
tags = { cis_v3 = "1.19", level = "1", type = "automated" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'IAM server certificates are only listed by the IAM API' AS reason
