/* +++
id = "s3-bucket-versioning-enabled"
title = "Buckets keep object versions"
severity = "low"
tags = { identifier = "S3_BUCKET_VERSIONING_ENABLED" }
+++ */
WITH buckets AS (
  SELECT arn, awsaccountid AS account, awsregion AS region, resourcename AS name, supplementaryconfiguration AS sup
  FROM report.config_state WHERE resourcetype = 'AWS::S3::Bucket'
)
SELECT arn AS resource, account, region,
       CASE WHEN json_extract_scalar(sup, '$.BucketVersioningConfiguration.status') = 'Enabled' THEN 'ok' ELSE 'alarm' END AS status,
       name || ' versioning: ' || coalesce(json_extract_scalar(sup, '$.BucketVersioningConfiguration.status'), 'Off') AS reason
FROM buckets
