import ArgumentParser
print("tributary")
