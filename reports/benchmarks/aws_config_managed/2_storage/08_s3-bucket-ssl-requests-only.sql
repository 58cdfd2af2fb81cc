/* +++
id = "s3-bucket-ssl-requests-only"
title = "Bucket policies deny requests without TLS"
severity = "medium"
tags = { identifier = "S3_BUCKET_SSL_REQUESTS_ONLY" }
+++ */
WITH buckets AS (
  SELECT arn, awsaccountid AS account, awsregion AS region, resourcename AS name, supplementaryconfiguration AS sup
  FROM report.config_state WHERE resourcetype = 'AWS::S3::Bucket'
),
policies AS (
  SELECT arn, account, region, name, json_extract_scalar(sup, '$.BucketPolicy.policyText') AS policy FROM buckets
)
SELECT arn AS resource, account, region,
       CASE WHEN policy IS NOT NULL AND strpos(policy, 'aws:SecureTransport') > 0
                 AND regexp_like(policy, '"Effect"\s*:\s*"Deny"') THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN policy IS NULL THEN name || ' has no bucket policy'
            WHEN strpos(policy, 'aws:SecureTransport') > 0 THEN name || ' denies requests without TLS'
            ELSE name || ' has a policy that does not deny requests without TLS' END AS reason
FROM policies
