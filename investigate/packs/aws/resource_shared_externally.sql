-- id: aws-resource-shared-publicly-or-externally
-- title: AMI, EBS snapshot or RDS snapshot shared with another account or made public
-- severity: high
-- mitre: T1537
-- tags: cloudtrail, ec2, rds, exfiltration
-- dedup: account, eventname, resource
-- covers: aws.exfiltration.ec2-share-ami, aws.exfiltration.ec2-share-ebs-snapshot,
--   aws.exfiltration.rds-share-snapshot
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip,
       coalesce(json_extract_scalar(requestparameters, '$.imageId'),
                json_extract_scalar(requestparameters, '$.snapshotId'),
                json_extract_scalar(requestparameters, '$.dBSnapshotIdentifier')) AS resource
FROM _investigate.actors
WHERE errorcode IS NULL
  AND (
    (eventname = 'ModifyImageAttribute'
     AND json_extract(requestparameters, '$.launchPermission.add') IS NOT NULL)
    OR (eventname = 'ModifySnapshotAttribute'
        AND json_extract(requestparameters, '$.createVolumePermission.add') IS NOT NULL)
    OR (eventname = 'ModifyDBSnapshotAttribute'
        AND json_extract_scalar(requestparameters, '$.attributeName') = 'restore'
        AND json_extract(requestparameters, '$.valuesToAdd') IS NOT NULL)
  )
