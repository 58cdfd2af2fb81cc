/* +++
id = "3.6"
title = "Ensure rotation for customer-created symmetric CMKs is enabled"
severity = "medium"
tags = { cis_v3 = "3.6", level = "2", type = "automated" }
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
       CASE WHEN rotation = 'true' THEN 'ok' ELSE 'alarm' END AS status,
       resourceid || CASE WHEN rotation = 'true' THEN ' rotates its key material yearly' ELSE ' does not rotate its key material' END AS reason
FROM keys WHERE spec = 'SYMMETRIC_DEFAULT' AND state NOT IN ('PendingDeletion', 'PendingReplicaDeletion')
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::KMS::Key is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::KMS::Key')
