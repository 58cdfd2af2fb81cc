/* +++
id = "rds-storage-encrypted"
title = "RDS instances encrypt their storage"
severity = "medium"
tags = { identifier = "RDS_STORAGE_ENCRYPTED" }
+++ */
SELECT arn AS resource, awsaccountid AS account, awsregion AS region,
       CASE WHEN json_extract_scalar(configuration, '$.storageEncrypted') = 'true' THEN 'ok' ELSE 'alarm' END AS status,
       resourceid || CASE WHEN json_extract_scalar(configuration, '$.storageEncrypted') = 'true' THEN ' stores its data encrypted' ELSE ' stores its data unencrypted' END AS reason
FROM report.config_state WHERE resourcetype = 'AWS::RDS::DBInstance'
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::RDS::DBInstance is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::RDS::DBInstance')
