/* +++
id = "3.9"
title = "Ensure that Object-level logging for read events is enabled for S3 bucket"
severity = "low"
tags = { cis_v3 = "3.9", level = "2", type = "automated" }
+++ */
WITH buckets AS (
  SELECT arn, awsaccountid AS account, awsregion AS region, resourcename AS name, supplementaryconfiguration AS sup
  FROM report.config_state WHERE resourcetype = 'AWS::S3::Bucket'
),
seen AS (
  SELECT json_extract_scalar(requestparameters, '$.bucketName') AS name, count(*) AS events, max(eventtime) AS last_event
  FROM report.cloudtrail
  WHERE eventsource = 's3.amazonaws.com' AND eventcategory = 'Data' AND eventname IN ('GetObject', 'HeadObject')
  GROUP BY 1
)
SELECT b.arn AS resource, b.account, b.region,
       CASE WHEN s.name IS NULL THEN 'info' ELSE 'ok' END AS status,
       CASE WHEN s.name IS NULL THEN 'no read data event for ' || b.name || ' in the period (not logged, or not used)'
            ELSE CAST(s.events AS VARCHAR) || ' read data events for ' || b.name || ' in the period, last at ' || s.last_event END AS reason
FROM buckets b LEFT JOIN seen s ON s.name = b.name
