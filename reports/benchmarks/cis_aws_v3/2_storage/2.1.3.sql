/* +++
id = "2.1.3"
title = "Ensure all data in Amazon S3 has been discovered, classified and secured when required"
severity = "low"
tags = { cis_v3 = "2.1.3", level = "2", type = "manual" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'data classification (Amazon Macie) is not recorded in the lake' AS reason
