
generalz
alicepsst