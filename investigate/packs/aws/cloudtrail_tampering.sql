-- id: aws-cloudtrail-tampering
-- title: CloudTrail logging stopped, trail deleted or weakened
-- severity: high
-- mitre: T1562.008
-- tags: cloudtrail, defense-evasion
-- dedup: account, principal
-- covers: aws.defense-evasion.cloudtrail-stop, aws.defense-evasion.cloudtrail-delete,
--   aws.defense-evasion.cloudtrail-event-selectors
-- scenarios: cloudtrail_tampering
-- description: StopLogging, DeleteTrail, event selectors changed, or UpdateTrail turning off log
--   file validation, multi-region logging or global service events.
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip,
       json_extract_scalar(requestparameters, '$.name') AS trail, errorcode
FROM _investigate.actors
WHERE eventsource = 'cloudtrail.amazonaws.com'
  AND (
    eventname IN ('StopLogging', 'DeleteTrail', 'PutEventSelectors', 'DeleteEventDataStore',
                  'StopEventDataStoreIngestion')
    OR (eventname = 'UpdateTrail' AND (
          json_extract_scalar(requestparameters, '$.enableLogFileValidation') = 'false'
       OR json_extract_scalar(requestparameters, '$.isMultiRegionTrail') = 'false'
       OR json_extract_scalar(requestparameters, '$.includeGlobalServiceEvents') = 'false'))
  )
