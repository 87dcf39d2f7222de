-- A window's participation tokens are counted and deleted through its waves (the primary key
-- begins with the wave), so the index by window is not needed: it cost every answer one more
-- b-tree insert, in the batch's transaction, and every release one more set of deletions.
DROP INDEX participation_window;
