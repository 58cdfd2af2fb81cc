/* +++
id = "ec2-ebs-encryption-by-default"
title = "EBS encryption by default is on in every region"
severity = "medium"
tags = { identifier = "EC2_EBS_ENCRYPTION_BY_DEFAULT" }
+++ */
WITH regions AS (
  SELECT DISTINCT awsaccountid AS account, awsregion AS region FROM report.config_state WHERE awsregion <> 'global'
),
switches AS (
  SELECT recipientaccountid AS account, awsregion AS region, eventid, eventname, eventtime,
         row_number() OVER (PARTITION BY recipientaccountid, awsregion ORDER BY eventtime DESC, eventid DESC) AS n
  FROM report.cloudtrail
  WHERE eventname IN ('EnableEbsEncryptionByDefault', 'DisableEbsEncryptionByDefault') AND errorcode IS NULL
),
volumes AS (
  SELECT awsaccountid AS account, awsregion AS region, count(*) AS total,
         count_if(json_extract_scalar(configuration, '$.encrypted') = 'true') AS encrypted
  FROM report.config_state WHERE resourcetype = 'AWS::EC2::Volume' GROUP BY 1, 2
)
SELECT r.account || '/' || r.region AS resource, r.account, r.region,
       CASE WHEN s.eventname = 'DisableEbsEncryptionByDefault' THEN 'alarm'
            WHEN s.eventname = 'EnableEbsEncryptionByDefault' THEN 'ok'
            WHEN coalesce(v.total, 0) = coalesce(v.encrypted, 0) THEN 'ok'
            ELSE 'alarm' END AS status,
       CASE WHEN s.eventid IS NOT NULL THEN 'default encryption was switched by ' || s.eventname || ' at ' || s.eventtime
            ELSE CAST(coalesce(v.encrypted, 0) AS VARCHAR) || ' of ' || CAST(coalesce(v.total, 0) AS VARCHAR) || ' volumes are encrypted (the default setting did not change in the period)' END AS reason,
       CASE WHEN s.eventname = 'DisableEbsEncryptionByDefault' THEN s.eventid END AS cause_event_id
FROM regions r LEFT JOIN switches s ON s.account = r.account AND s.region = r.region AND s.n = 1
LEFT JOIN volumes v ON v.account = r.account AND v.region = r.region
