/* +++
id = "s3-bucket-server-side-encryption-enabled"
title = "Buckets encrypt new objects by default"
severity = "medium"
tags = { identifier = "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED" }
+++ */
WITH buckets AS (
  SELECT arn, awsaccountid AS account, awsregion AS region, resourcename AS name, supplementaryconfiguration AS sup
  FROM report.config_state WHERE resourcetype = 'AWS::S3::Bucket'
)
SELECT arn AS resource, account, region,
       CASE WHEN json_extract_scalar(sup, '$.ServerSideEncryptionConfiguration.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm') IS NULL THEN 'alarm' ELSE 'ok' END AS status,
       name || ' encrypts with ' || coalesce(json_extract_scalar(sup, '$.ServerSideEncryptionConfiguration.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm'), 'nothing') AS reason
FROM buckets
