-- id: aws-s3-bucket-made-public
-- title: S3 bucket policy or ACL grants access to everyone, or public access block removed
-- severity: high
-- mitre: T1530, T1537
-- tags: cloudtrail, s3, exposure, exfiltration
-- dedup: account, bucket
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip,
       json_extract_scalar(requestparameters, '$.bucketName') AS bucket
FROM _investigate.actors
WHERE eventsource = 's3.amazonaws.com' AND errorcode IS NULL
  AND (
    (eventname = 'PutBucketPolicy'
     AND regexp_like(requestparameters, '"Effect"\s*:\s*"Allow"')
     AND regexp_like(requestparameters,
                     '"Principal"\s*:\s*("\*"|\{\s*"AWS"\s*:\s*(\[\s*)?"\*")'))
    OR (eventname IN ('PutBucketAcl', 'PutObjectAcl')
        AND (requestparameters LIKE '%http://acs.amazonaws.com/groups/global/AllUsers%'
             OR requestparameters LIKE '%http://acs.amazonaws.com/groups/global/AuthenticatedUsers%'
             OR json_extract_scalar(requestparameters, '$["x-amz-acl"]') IN ('public-read', 'public-read-write')))
    OR (eventname IN ('DeleteBucketPublicAccessBlock', 'DeleteAccountPublicAccessBlock'))
    OR (eventname IN ('PutBucketPublicAccessBlock', 'PutAccountPublicAccessBlock')
        AND regexp_like(requestparameters, '"(BlockPublicPolicy|RestrictPublicBuckets)"\s*:\s*false'))
  )
