/* +++
id = "2.4.1"
title = "Ensure that encryption is enabled for EFS file systems"
severity = "medium"
tags = { cis_v3 = "2.4.1", level = "1", type = "manual" }
+++ */
SELECT arn AS resource, awsaccountid AS account, awsregion AS region,
       CASE WHEN coalesce(json_extract_scalar(configuration, '$.Encrypted'), json_extract_scalar(configuration, '$.encrypted')) = 'true' THEN 'ok' ELSE 'alarm' END AS status,
       resourceid || ' encryption at rest: ' || coalesce(json_extract_scalar(configuration, '$.Encrypted'), json_extract_scalar(configuration, '$.encrypted'), 'false') AS reason
FROM report.config_state WHERE resourcetype = 'AWS::EFS::FileSystem'
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::EFS::FileSystem is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::EFS::FileSystem')
