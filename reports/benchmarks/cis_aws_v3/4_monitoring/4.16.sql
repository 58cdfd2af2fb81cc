/* +++
id = "4.16"
title = "Ensure AWS Security Hub is enabled"
severity = "medium"
tags = { cis_v3 = "4.16", level = "2", type = "automated" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'Security Hub is outside the lake: loglake runs these controls itself' AS reason
