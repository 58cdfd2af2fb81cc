/* +++
id = "3.4"
title = "Ensure S3 bucket access logging is enabled on the CloudTrail S3 bucket"
severity = "low"
tags = { cis_v3 = "3.4", level = "1", type = "automated" }
+++ */
WITH trails AS (
  SELECT s.awsaccountid AS account, s.awsregion AS region, s.arn,
         json_extract_scalar(s.configuration, '$.name') AS name,
         json_extract_scalar(s.configuration, '$.isMultiRegionTrail') = 'true' AS multi_region,
         json_extract_scalar(s.configuration, '$.isOrganizationTrail') = 'true' AS organization,
         json_extract_scalar(s.configuration, '$.logFileValidationEnabled') = 'true' AS validation,
         json_extract_scalar(s.configuration, '$.kmsKeyId') AS kms_key,
         json_extract_scalar(s.configuration, '$.s3BucketName') AS bucket
  FROM report.config_state s WHERE s.resourcetype = 'AWS::CloudTrail::Trail'
),
switches AS (
  SELECT eventid, eventname, eventtime, recipientaccountid AS account,
         json_extract_scalar(requestparameters, '$.name') AS target,
         row_number() OVER (PARTITION BY json_extract_scalar(requestparameters, '$.name')
                            ORDER BY eventtime DESC, eventid DESC) AS n
  FROM report.cloudtrail
  WHERE eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('StopLogging', 'StartLogging')
    AND errorcode IS NULL
),
status AS (
  SELECT t.*, w.eventname AS last_switch, w.eventid AS switch_event,
         coalesce(w.eventname, 'StartLogging') = 'StartLogging' AS logging
  FROM trails t LEFT JOIN switches w ON w.n = 1 AND (w.target = t.arn OR w.target = t.name)
)
SELECT t.arn AS resource, t.account, t.region,
       CASE WHEN b.arn IS NULL THEN 'info'
            WHEN json_extract_scalar(b.supplementaryconfiguration, '$.BucketLoggingConfiguration.destinationBucketName') IS NOT NULL THEN 'ok'
            ELSE 'alarm' END AS status,
       CASE WHEN b.arn IS NULL THEN 'the trail bucket ' || t.bucket || ' is not recorded by AWS Config here'
            WHEN json_extract_scalar(b.supplementaryconfiguration, '$.BucketLoggingConfiguration.destinationBucketName') IS NOT NULL THEN t.bucket || ' has access logging'
            ELSE t.bucket || ' has no access logging' END AS reason
FROM status t LEFT JOIN report.config_state b ON b.resourcetype = 'AWS::S3::Bucket' AND b.resourcename = t.bucket
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::CloudTrail::Trail is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::CloudTrail::Trail')
