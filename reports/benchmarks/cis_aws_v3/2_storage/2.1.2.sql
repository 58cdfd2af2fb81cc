/* +++
id = "2.1.2"
title = "Ensure MFA Delete is enabled on S3 buckets"
severity = "low"
tags = { cis_v3 = "2.1.2", level = "2", type = "manual" }
+++ */
WITH buckets AS (
  SELECT arn, awsaccountid AS account, awsregion AS region, resourcename AS name, supplementaryconfiguration AS sup
  FROM report.config_state WHERE resourcetype = 'AWS::S3::Bucket'
)
SELECT arn AS resource, account, region, 'info' AS status,
       name || ': versioning ' || coalesce(json_extract_scalar(sup, '$.BucketVersioningConfiguration.status'), 'Off')
            || ', MFA delete ' || CASE WHEN json_extract_scalar(sup, '$.BucketVersioningConfiguration.isMfaDeleteEnabled') = 'true' THEN 'enabled' ELSE 'not enabled' END AS reason
FROM buckets
