/* +++
id = "kms-cmk-not-scheduled-for-deletion"
title = "Customer managed KMS keys are not scheduled for deletion"
severity = "high"
tags = { identifier = "KMS_CMK_NOT_SCHEDULED_FOR_DELETION" }
+++ */
WITH keys AS (
  SELECT arn, awsaccountid AS account, awsregion AS region, resourceid,
         json_extract_scalar(configuration, '$.keyState') AS state,
         json_extract_scalar(configuration, '$.deletionDate') AS deletion,
         json_extract_scalar(supplementaryconfiguration, '$.KeyRotationStatus') AS rotation,
         coalesce(json_extract_scalar(configuration, '$.keySpec'), json_extract_scalar(configuration, '$.customerMasterKeySpec')) AS spec
  FROM report.config_state
  WHERE resourcetype = 'AWS::KMS::Key' AND json_extract_scalar(configuration, '$.keyManager') = 'CUSTOMER'
)
SELECT arn AS resource, account, region,
       CASE WHEN state = 'PendingDeletion' THEN 'alarm' ELSE 'ok' END AS status,
       resourceid || CASE WHEN state = 'PendingDeletion' THEN ' is scheduled for deletion on ' || coalesce(deletion, '?') ELSE ' is ' || coalesce(state, 'in an unknown state') END AS reason
FROM keys
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::KMS::Key is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::KMS::Key')
