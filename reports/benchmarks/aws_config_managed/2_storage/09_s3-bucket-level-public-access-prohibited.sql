/* +++
id = "s3-bucket-level-public-access-prohibited"
title = "Buckets block public access"
severity = "high"
tags = { identifier = "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED" }
+++ */
WITH buckets AS (
  SELECT arn, awsaccountid AS account, awsregion AS region, resourcename AS name, supplementaryconfiguration AS sup
  FROM report.config_state WHERE resourcetype = 'AWS::S3::Bucket'
),
account_block AS (
  SELECT awsaccountid AS account FROM report.config_state
  WHERE resourcetype = 'AWS::S3::AccountPublicAccessBlock'
    AND json_extract_scalar(configuration, '$.blockPublicAcls') = 'true'
    AND json_extract_scalar(configuration, '$.ignorePublicAcls') = 'true'
    AND json_extract_scalar(configuration, '$.blockPublicPolicy') = 'true'
    AND json_extract_scalar(configuration, '$.restrictPublicBuckets') = 'true'
)
SELECT b.arn AS resource, b.account, b.region,
       CASE WHEN coalesce(json_extract_scalar(b.sup, '$.PublicAccessBlockConfiguration.blockPublicAcls'), 'false') = 'true' AND coalesce(json_extract_scalar(b.sup, '$.PublicAccessBlockConfiguration.ignorePublicAcls'), 'false') = 'true' AND coalesce(json_extract_scalar(b.sup, '$.PublicAccessBlockConfiguration.blockPublicPolicy'), 'false') = 'true' AND coalesce(json_extract_scalar(b.sup, '$.PublicAccessBlockConfiguration.restrictPublicBuckets'), 'false') = 'true' OR a.account IS NOT NULL THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN a.account IS NOT NULL THEN b.name || ' is covered by the account''s public access block'
            WHEN coalesce(json_extract_scalar(b.sup, '$.PublicAccessBlockConfiguration.blockPublicAcls'), 'false') = 'true' AND coalesce(json_extract_scalar(b.sup, '$.PublicAccessBlockConfiguration.ignorePublicAcls'), 'false') = 'true' AND coalesce(json_extract_scalar(b.sup, '$.PublicAccessBlockConfiguration.blockPublicPolicy'), 'false') = 'true' AND coalesce(json_extract_scalar(b.sup, '$.PublicAccessBlockConfiguration.restrictPublicBuckets'), 'false') = 'true' THEN b.name || ' blocks all public access'
            ELSE b.name || ' does not block all public access' END AS reason
FROM buckets b LEFT JOIN account_block a ON a.account = b.account
