/* +++
id = "s3-bucket-public-read-prohibited"
title = "Buckets do not allow public read access"
severity = "critical"
tags = { identifier = "S3_BUCKET_PUBLIC_READ_PROHIBITED" }
+++ */
WITH buckets AS (
  SELECT arn, awsaccountid AS account, awsregion AS region, resourcename AS name, supplementaryconfiguration AS sup
  FROM report.config_state WHERE resourcetype = 'AWS::S3::Bucket'
),
grants AS (
  SELECT arn, account, region, name, (coalesce(json_extract_scalar(sup, '$.PublicAccessBlockConfiguration.blockPublicAcls'), 'false') = 'true' AND coalesce(json_extract_scalar(sup, '$.PublicAccessBlockConfiguration.ignorePublicAcls'), 'false') = 'true' AND coalesce(json_extract_scalar(sup, '$.PublicAccessBlockConfiguration.blockPublicPolicy'), 'false') = 'true' AND coalesce(json_extract_scalar(sup, '$.PublicAccessBlockConfiguration.restrictPublicBuckets'), 'false') = 'true') AS blocked,
         strpos(coalesce(json_extract_scalar(sup, '$.AccessControlList'), ''), 'http://acs.amazonaws.com/groups/global/AllUsers') > 0
           AND regexp_like(coalesce(json_extract_scalar(sup, '$.AccessControlList'), ''), '"permission"\s*:\s*"(Read|FullControl)"') AS acl_public,
         regexp_like(coalesce(json_extract_scalar(sup, '$.BucketPolicy.policyText'), ''), '"Principal"\s*:\s*("\*"|\{\s*"AWS"\s*:\s*"\*")')
           AND regexp_like(coalesce(json_extract_scalar(sup, '$.BucketPolicy.policyText'), ''), '"Effect"\s*:\s*"Allow"') AS policy_public
  FROM buckets
)
SELECT arn AS resource, account, region,
       CASE WHEN NOT blocked AND (acl_public OR policy_public) THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN blocked THEN name || ' blocks public access'
            WHEN acl_public THEN name || ' grants read access to everyone in its ACL'
            WHEN policy_public THEN name || ' has a policy allowing anyone'
            ELSE name || ' grants no public read access' END AS reason
FROM grants
