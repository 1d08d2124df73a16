-- Valid analyst queries covering the dialect (issue 4), written against the
-- synthetic consortium of package gen (telecom, bank, utility).
--
-- Format: blocks separated by blank lines. A block whose first line is
-- "-- name: <name>" is one query: the remaining lines, joined with "\n".
-- Other blocks (like this one) are comments. Every query is plain SQL a
-- real engine can run (no SYMMETRIC, no EXPLAIN options); VARIANCE and
-- STDDEV are the sample forms (PostgreSQL's var_samp, stddev_samp), and a
-- SUM over no one is 0 (COALESCE(SUM(x), 0)). Results list the GROUP BY
-- columns first, every declared group included (empty ones too).

-- name: design example per district
SELECT utility.district, COUNT(*), SUM(bank.cash_deposits_30d)
FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)
WHERE telecom.flagged_calls_30d > 5 AND utility.kwh_30d > 3000
GROUP BY utility.district

-- name: group by without selecting the group column
SELECT COUNT(*) FROM bank GROUP BY bank.district

-- name: group by two columns of two institutions
SELECT telecom.district, bank.district, COUNT(*), SUM(bank.balance)
FROM telecom JOIN bank USING (person_id)
GROUP BY telecom.district, bank.district

-- name: group column and aggregate aliases
SELECT u.district AS area, AVG(u.kwh_30d) AS avg_kwh, COUNT(*) AS people
FROM utility u
GROUP BY u.district

-- name: or across two institutions
SELECT COUNT(*), SUM(bank.transfers_abroad_30d)
FROM telecom JOIN bank USING (person_id)
WHERE telecom.flagged_calls_30d > 20 OR bank.transfers_abroad_30d > 5

-- name: or across three institutions
SELECT COUNT(*)
FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)
WHERE telecom.flagged_calls_30d > 50 OR bank.cash_deposits_30d > 100000 OR utility.meter_tamper = 1

-- name: not of a cross-institution conjunction
SELECT COUNT(*)
FROM telecom JOIN bank USING (person_id)
WHERE NOT (telecom.flagged_calls_30d > 20 AND bank.transfers_abroad_30d > 5)

-- name: not of one comparison
SELECT COUNT(*), SUM(bank.balance) FROM bank WHERE NOT bank.balance > 1000000

-- name: double negation
SELECT COUNT(*) FROM bank WHERE NOT NOT bank.accounts >= 3

-- name: two ors across institutions joined by and
SELECT COUNT(*)
FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)
WHERE (telecom.flagged_calls_30d > 10 OR bank.transfers_abroad_30d > 3)
  AND (utility.kwh_30d > 20000 OR bank.cash_deposits_30d > 50000)

-- name: or of conjunctions across institutions
SELECT COUNT(*), AVG(bank.balance)
FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)
WHERE (telecom.calls_30d > 1000 AND bank.accounts > 2)
   OR (telecom.intl_minutes_30d > 500 AND utility.kwh_30d < 2000)

-- name: or within one institution
SELECT COUNT(*) FROM bank WHERE bank.balance > 5000000 OR bank.cash_deposits_30d > 200000

-- name: mixed local and cross-institution or
SELECT COUNT(*)
FROM telecom JOIN bank USING (person_id)
WHERE bank.accounts >= 1 AND (telecom.district = 'D02' OR bank.district = 'D02') AND telecom.phone_lines < 5

-- name: not of a disjunction across institutions
SELECT COUNT(*)
FROM telecom JOIN utility USING (person_id)
WHERE NOT (telecom.flagged_calls_30d > 30 OR utility.meter_tamper = 1)

-- name: district equality at any of three institutions
SELECT COUNT(*)
FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)
WHERE telecom.district = 'D01' OR bank.district = 'D01' OR utility.district = 'D01'

-- name: electricity above three times the usual
SELECT COUNT(*), SUM(utility.kwh_30d) FROM utility WHERE utility.kwh_30d > 3 * utility.kwh_avg_12m

-- name: compare two columns of one institution
SELECT COUNT(*) FROM bank WHERE bank.cash_deposits_30d > bank.balance

-- name: subtraction with a negative constant
SELECT COUNT(*) FROM bank WHERE bank.balance - bank.cash_deposits_30d > -1000

-- name: product of two columns
SELECT COUNT(*) FROM telecom WHERE telecom.phone_lines * telecom.calls_30d > 2000

-- name: arithmetic on both sides and constant on the left
SELECT COUNT(*) FROM utility WHERE 2 * utility.kwh_avg_12m + 100 < utility.kwh_30d - 50

-- name: unary minus
SELECT COUNT(*) FROM bank WHERE -bank.balance < -5000

-- name: parenthesized arithmetic
SELECT COUNT(*) FROM telecom WHERE (telecom.calls_30d - telecom.flagged_calls_30d) * 2 > telecom.calls_30d

-- name: in a list of integers
SELECT COUNT(*), SUM(bank.balance) FROM bank WHERE bank.accounts IN (1, 2, 3)

-- name: in a list of categories
SELECT COUNT(*) FROM telecom WHERE telecom.district IN ('D01', 'D03', 'D05')

-- name: not in categories
SELECT COUNT(*), SUM(utility.kwh_30d) FROM utility WHERE utility.district NOT IN ('D01', 'D02')

-- name: not in integers
SELECT COUNT(*) FROM telecom WHERE telecom.phone_lines NOT IN (0, 1)

-- name: in with arithmetic
SELECT COUNT(*) FROM bank WHERE bank.accounts + 1 IN (2, 4, 6)

-- name: between
SELECT COUNT(*) FROM telecom WHERE telecom.calls_30d BETWEEN 100 AND 500

-- name: not between
SELECT COUNT(*) FROM telecom WHERE telecom.calls_30d NOT BETWEEN 100 AND 500

-- name: between column bounds
SELECT COUNT(*) FROM utility WHERE utility.kwh_30d BETWEEN utility.kwh_avg_12m AND 2 * utility.kwh_avg_12m

-- name: average
SELECT AVG(bank.balance) FROM bank

-- name: variance and standard deviation
SELECT COUNT(*), VARIANCE(utility.kwh_30d), STDDEV(utility.kwh_30d) FROM utility

-- name: postgres sample names
SELECT VAR_SAMP(bank.accounts), STDDEV_SAMP(bank.accounts) FROM bank WHERE bank.accounts > 0

-- name: every aggregate with aliases
SELECT COUNT(*) AS n, SUM(bank.transfers_abroad_30d) AS total, AVG(bank.transfers_abroad_30d) AS mean,
       VARIANCE(bank.transfers_abroad_30d) AS var, STDDEV(bank.transfers_abroad_30d) AS sd
FROM telecom JOIN bank USING (person_id)
WHERE telecom.flagged_calls_30d > 10

-- name: aggregates of three institutions per district
SELECT bank.district, AVG(telecom.calls_30d), AVG(bank.balance), STDDEV(utility.kwh_30d)
FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)
GROUP BY bank.district

-- name: telecom customers who are not bank customers
SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) WHERE bank.person_id IS NULL

-- name: not bank customers with many flagged calls per district
SELECT telecom.district, COUNT(*), AVG(telecom.flagged_calls_30d)
FROM telecom LEFT JOIN bank USING (person_id)
WHERE bank.person_id IS NULL AND telecom.flagged_calls_30d > 10
GROUP BY telecom.district

-- name: left join with is not null
SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) WHERE bank.person_id IS NOT NULL

-- name: left join without a presence test
SELECT COUNT(*), SUM(telecom.calls_30d) FROM telecom LEFT JOIN bank USING (person_id)

-- name: two left joins
SELECT COUNT(*)
FROM telecom LEFT JOIN bank USING (person_id) LEFT JOIN utility USING (person_id)
WHERE bank.person_id IS NULL AND utility.person_id IS NOT NULL

-- name: left join then inner join
SELECT COUNT(*), SUM(utility.kwh_30d)
FROM telecom LEFT JOIN bank USING (person_id) JOIN utility USING (person_id)
WHERE bank.person_id IS NULL AND utility.meter_tamper = 1

-- name: absent from the bank with an or on the telecom
SELECT COUNT(*)
FROM telecom LEFT JOIN bank USING (person_id)
WHERE bank.person_id IS NULL AND (telecom.flagged_calls_30d > 20 OR telecom.intl_minutes_30d > 1000)

-- name: absent from the utility with an or across institutions
SELECT bank.district, COUNT(*)
FROM telecom JOIN bank USING (person_id) LEFT JOIN utility USING (person_id)
WHERE utility.person_id IS NULL AND (telecom.flagged_calls_30d > 20 OR bank.transfers_abroad_30d > 5)
GROUP BY bank.district

-- name: explain
EXPLAIN SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 5

-- name: explain a grouped or
EXPLAIN SELECT utility.district, COUNT(*)
FROM telecom JOIN utility USING (person_id)
WHERE telecom.flagged_calls_30d > 20 OR utility.kwh_30d > 3 * utility.kwh_avg_12m
GROUP BY utility.district

-- name: grouped or with average and standard deviation
SELECT telecom.district, COUNT(*), AVG(bank.balance), STDDEV(bank.accounts)
FROM telecom JOIN bank USING (person_id)
WHERE telecom.flagged_calls_30d > 20 OR bank.transfers_abroad_30d > 5
GROUP BY telecom.district

-- name: grouped by two columns with in and between
SELECT bank.district, utility.district, COUNT(*), SUM(utility.kwh_30d)
FROM bank JOIN utility USING (person_id)
WHERE bank.accounts IN (2, 3) AND utility.kwh_30d BETWEEN 1000 AND 30000
GROUP BY bank.district, utility.district

-- name: inequality spellings and constants on the left
SELECT COUNT(*)
FROM telecom JOIN bank USING (person_id)
WHERE telecom.district <> 'D04' AND bank.district != 'D05' AND 3 < bank.accounts AND 10 >= telecom.phone_lines

-- name: lower case with table aliases
select t.district, count(*), avg(b.cash_deposits_30d)
from telecom as t join bank b using (person_id)
where not (t.flagged_calls_30d <= 5 or b.cash_deposits_30d < 10000)
group by t.district

-- name: not across institutions with a local arithmetic comparison
SELECT COUNT(*), SUM(utility.kwh_30d)
FROM bank JOIN utility USING (person_id)
WHERE NOT (utility.kwh_30d > 3 * utility.kwh_avg_12m AND bank.cash_deposits_30d > 20000)

-- name: first subset query
SELECT COUNT(*), SUM(bank.cash_deposits_30d)
FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)
WHERE utility.kwh_30d > 5000 AND bank.cash_deposits_30d > 50000 AND telecom.phone_lines >= 1

-- name: not of a disjunction within one institution
SELECT COUNT(*), SUM(bank.balance) FROM telecom JOIN bank USING (person_id)
WHERE NOT (bank.balance > 1000000 OR bank.accounts = 0) AND telecom.calls_30d > 100

-- name: exactly one of two institutions flags the person
SELECT COUNT(*), SUM(bank.transfers_abroad_30d)
FROM telecom JOIN bank USING (person_id)
WHERE (telecom.flagged_calls_30d > 20 AND NOT (telecom.flagged_calls_30d > 20 AND bank.transfers_abroad_30d > 5))
   OR (bank.transfers_abroad_30d > 5 AND NOT (telecom.flagged_calls_30d > 20 AND bank.transfers_abroad_30d > 5))

-- name: clipped sums and average (LEAST bounds what one person adds)
SELECT COUNT(*), SUM(LEAST(bank.balance, 500000)), AVG(LEAST(bank.cash_deposits_30d, 20000))
FROM bank JOIN utility USING (person_id)
WHERE utility.kwh_30d > 3000

-- name: clipped standard deviation per district
SELECT utility.district, STDDEV(LEAST(utility.kwh_30d, 5000)), SUM(utility.kwh_30d)
FROM utility
GROUP BY utility.district
