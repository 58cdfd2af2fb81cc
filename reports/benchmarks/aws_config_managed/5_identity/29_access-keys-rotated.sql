/* +++
id = "access-keys-rotated"
title = "Active access keys are younger than 90 days"
severity = "medium"
tags = { identifier = "ACCESS_KEYS_ROTATED" }
+++ */
SELECT CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS VARCHAR) AS account,
       CAST(NULL AS VARCHAR) AS region, 'skip' AS status,
       'needs the IAM credential report (access key creation dates)' AS reason
