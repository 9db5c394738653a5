*m9º
rate_limited	slow downô