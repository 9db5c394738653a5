*w1š
generalalicebob