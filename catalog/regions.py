"""Where the clouds' regions are: the one table of region coordinates, read by the drivers (the
public catalog, the AWS driver) and by the local cloud's flavors (`localcloud.world_regions`).

Hand-written from each provider's public region list: the city or metro area the provider names
for the region (in the display name, or a comment when the name has none), with its latitude and
longitude to about 0.1 degree, enough for distances and RTT estimates. Covers every region of
Libcloud's bundled price data (checked by tests/unit/test_catalog_store.py) and the public regions
the providers list beyond it (GCE and Azure regions opened since, Alibaba Cloud's ECS regions).
The last two tables are the local cloud's private sites (OpenStack and Cloudit imitations).

No imports from the rest of mcis: `localcloud/` may import this module, never the reverse.
"""

from __future__ import annotations

Place = tuple[str, float, float]  # display name (the city, or its comment), latitude, longitude

AWS_REGIONS: dict[str, Place] = {
    "us-east-1": ("US East (N. Virginia)", 39.04, -77.49),  # Ashburn
    "us-east-2": ("US East (Ohio)", 39.96, -83.00),  # Columbus
    "us-west-1": ("US West (N. California)", 37.35, -121.96),  # San Jose
    "us-west-2": ("US West (Oregon)", 45.84, -119.70),  # Boardman
    "us-west-2-lax-1": ("US West (Los Angeles Local Zone)", 34.05, -118.24),  # Los Angeles
    "us-gov-west-1": ("AWS GovCloud (US-West)", 45.60, -121.18),  # The Dalles
    "us-gov-east-1": ("AWS GovCloud (US-East)", 40.00, -83.00),  # Columbus
    "ca-central-1": ("Canada (Central, Montreal)", 45.50, -73.57),  # Montreal
    "ca-west-1": ("Canada West (Calgary)", 51.05, -114.07),  # Calgary
    "mx-central-1": ("Mexico (Central, Queretaro)", 20.59, -100.39),  # Queretaro
    "sa-east-1": ("South America (Sao Paulo)", -23.55, -46.63),  # Sao Paulo
    "eu-west-1": ("Europe (Ireland)", 53.35, -6.26),  # Dublin
    "eu-west-2": ("Europe (London)", 51.51, -0.13),  # London
    "eu-west-3": ("Europe (Paris)", 48.86, 2.35),  # Paris
    "eu-central-1": ("Europe (Frankfurt)", 50.11, 8.68),  # Frankfurt
    "eu-central-2": ("Europe (Zurich)", 47.37, 8.54),  # Zurich
    "eu-north-1": ("Europe (Stockholm)", 59.33, 18.07),  # Stockholm
    "eu-south-1": ("Europe (Milan)", 45.46, 9.19),  # Milan
    "eu-south-2": ("Europe (Spain, Aragon)", 41.65, -0.88),  # Zaragoza
    "il-central-1": ("Israel (Tel Aviv)", 32.09, 34.78),  # Tel Aviv
    "me-south-1": ("Middle East (Bahrain)", 26.07, 50.56),  # Manama
    "me-central-1": ("Middle East (UAE)", 25.20, 55.27),  # Dubai
    "af-south-1": ("Africa (Cape Town)", -33.92, 18.42),  # Cape Town
    "ap-east-1": ("Asia Pacific (Hong Kong)", 22.32, 114.17),  # Hong Kong
    "ap-east-2": ("Asia Pacific (Taipei)", 25.03, 121.57),  # Taipei
    "ap-south-1": ("Asia Pacific (Mumbai)", 19.08, 72.88),  # Mumbai
    "ap-south-2": ("Asia Pacific (Hyderabad)", 17.39, 78.49),  # Hyderabad
    "ap-northeast-1": ("Asia Pacific (Tokyo)", 35.68, 139.69),  # Tokyo
    "ap-northeast-2": ("Asia Pacific (Seoul)", 37.56, 126.98),  # Seoul
    "ap-northeast-3": ("Asia Pacific (Osaka)", 34.69, 135.50),  # Osaka
    "ap-southeast-1": ("Asia Pacific (Singapore)", 1.35, 103.82),  # Singapore
    "ap-southeast-2": ("Asia Pacific (Sydney)", -33.87, 151.21),  # Sydney
    "ap-southeast-3": ("Asia Pacific (Jakarta)", -6.21, 106.85),  # Jakarta
    "ap-southeast-4": ("Asia Pacific (Melbourne)", -37.81, 144.96),  # Melbourne
    "ap-southeast-5": ("Asia Pacific (Malaysia)", 3.14, 101.69),  # Kuala Lumpur
    "ap-southeast-6": ("Asia Pacific (New Zealand)", -36.85, 174.76),  # Auckland
    "ap-southeast-7": ("Asia Pacific (Thailand)", 13.76, 100.50),  # Bangkok
}

AZURE_REGIONS: dict[str, Place] = {
    "australiacentral": ("Australia Central (Canberra)", -35.31, 149.12),
    "australiacentral2": ("Australia Central 2 (Canberra)", -35.31, 149.12),
    "australiaeast": ("Australia East (New South Wales, Sydney)", -33.86, 151.21),
    "australiasoutheast": ("Australia Southeast (Victoria, Melbourne)", -37.81, 144.96),
    "brazilsouth": ("Brazil South (Sao Paulo)", -23.55, -46.63),
    "brazilsoutheast": ("Brazil Southeast (Rio de Janeiro)", -22.91, -43.17),
    "canadacentral": ("Canada Central (Toronto)", 43.65, -79.38),
    "canadaeast": ("Canada East (Quebec City)", 46.81, -71.21),
    "centralindia": ("Central India (Pune)", 18.52, 73.86),
    "centralus": ("Central US (Iowa, Des Moines)", 41.59, -93.60),
    "eastasia": ("East Asia (Hong Kong)", 22.27, 114.19),
    "eastus": ("East US (Virginia, Boydton)", 37.37, -79.82),
    "eastus2": ("East US 2 (Virginia, Boydton)", 36.68, -78.39),
    "francecentral": ("France Central (Paris)", 48.86, 2.35),
    "francesouth": ("France South (Marseille)", 43.30, 5.37),
    "germanycentral": ("Germany Central (Frankfurt, retired)", 50.11, 8.68),
    "germanynorth": ("Germany North (Berlin)", 52.52, 13.40),
    "germanynortheast": ("Germany Northeast (Magdeburg, retired)", 52.12, 11.63),
    "germanywestcentral": ("Germany West Central (Frankfurt)", 50.11, 8.68),
    "japaneast": ("Japan East (Tokyo)", 35.68, 139.77),
    "japanwest": ("Japan West (Osaka)", 34.69, 135.50),
    "koreacentral": ("Korea Central (Seoul)", 37.57, 126.98),
    "koreasouth": ("Korea South (Busan)", 35.18, 129.08),
    "northcentralus": ("North Central US (Illinois, Chicago)", 41.88, -87.63),
    "northeurope": ("North Europe (Ireland, Dublin)", 53.35, -6.26),
    "norwayeast": ("Norway East (Oslo)", 59.91, 10.75),
    "norwaywest": ("Norway West (Stavanger)", 58.97, 5.73),
    "southafricanorth": ("South Africa North (Johannesburg)", -26.20, 28.05),
    "southafricawest": ("South Africa West (Cape Town)", -33.92, 18.42),
    "southcentralus": ("South Central US (Texas, San Antonio)", 29.42, -98.49),
    "southeastasia": ("Southeast Asia (Singapore)", 1.28, 103.83),
    "southindia": ("South India (Chennai)", 13.08, 80.27),
    "switzerlandnorth": ("Switzerland North (Zurich)", 47.37, 8.54),
    "switzerlandwest": ("Switzerland West (Geneva)", 46.20, 6.14),
    "uaecentral": ("UAE Central (Abu Dhabi)", 24.47, 54.37),
    "uaenorth": ("UAE North (Dubai)", 25.27, 55.30),
    "uksouth": ("UK South (London)", 51.51, -0.13),
    "ukwest": ("UK West (Cardiff)", 51.48, -3.18),
    "usgovarizona": ("US Gov Arizona (Phoenix)", 33.45, -112.07),
    "usgovtexas": ("US Gov Texas (San Antonio)", 29.42, -98.49),
    "usgovvirginia": ("US Gov Virginia (Boydton)", 36.68, -78.39),
    "westcentralus": ("West Central US (Wyoming, Cheyenne)", 41.14, -104.82),
    "westeurope": ("West Europe (Netherlands, Amsterdam)", 52.37, 4.90),
    "westindia": ("West India (Mumbai)", 19.08, 72.88),
    "westus": ("West US (California, San Francisco)", 37.78, -122.42),
    "westus2": ("West US 2 (Washington, Quincy)", 47.23, -119.85),
    # regions Azure opened after Libcloud's price data
    "westus3": ("West US 3 (Phoenix)", 33.45, -112.07),
    "swedencentral": ("Sweden Central (Gavle)", 60.67, 17.14),
    "swedensouth": ("Sweden South (Malmo)", 55.61, 13.00),
    "polandcentral": ("Poland Central (Warsaw)", 52.23, 21.01),
    "italynorth": ("Italy North (Milan)", 45.46, 9.19),
    "spaincentral": ("Spain Central (Madrid)", 40.42, -3.70),
    "qatarcentral": ("Qatar Central (Doha)", 25.29, 51.53),
    "israelcentral": ("Israel Central (Tel Aviv)", 32.09, 34.78),
    "mexicocentral": ("Mexico Central (Queretaro)", 20.59, -100.39),
    "newzealandnorth": ("New Zealand North (Auckland)", -36.85, 174.76),
    "jioindiawest": ("Jio India West (Jamnagar)", 22.47, 70.06),
    "jioindiacentral": ("Jio India Central (Nagpur)", 21.15, 79.09),
    "indonesiacentral": ("Indonesia Central (Jakarta)", -6.21, 106.85),
    "malaysiawest": ("Malaysia West (Kuala Lumpur)", 3.14, 101.69),
    "chilecentral": ("Chile Central (Santiago)", -33.45, -70.67),
}

GCE_REGIONS: dict[str, Place] = {
    "asia-east1": ("Changhua County, Taiwan", 24.07, 120.54),
    "asia-east2": ("Hong Kong", 22.32, 114.17),
    "asia-northeast1": ("Tokyo", 35.69, 139.69),
    "asia-northeast2": ("Osaka", 34.69, 135.50),
    "asia-northeast3": ("Seoul", 37.56, 126.98),
    "asia-south1": ("Mumbai", 19.08, 72.88),
    "asia-southeast1": ("Jurong West, Singapore", 1.34, 103.71),
    "asia-southeast2": ("Jakarta", -6.21, 106.85),
    "australia-southeast1": ("Sydney", -33.87, 151.21),
    "europe-north1": ("Hamina, Finland", 60.57, 27.19),
    "europe-west1": ("St. Ghislain, Belgium", 50.45, 3.82),
    "europe-west2": ("London", 51.51, -0.13),
    "europe-west3": ("Frankfurt", 50.11, 8.68),
    "europe-west4": ("Eemshaven, Netherlands", 53.44, 6.83),
    "europe-west6": ("Zurich", 47.37, 8.54),
    "northamerica-northeast1": ("Montreal", 45.50, -73.57),
    "southamerica-east1": ("Osasco (Sao Paulo)", -23.53, -46.79),
    "us-central1": ("Council Bluffs, Iowa", 41.26, -95.86),
    "us-east1": ("Moncks Corner, South Carolina", 33.20, -80.01),
    "us-east4": ("Ashburn, Virginia", 39.04, -77.49),
    "us-west1": ("The Dalles, Oregon", 45.60, -121.18),
    "us-west2": ("Los Angeles", 34.05, -118.24),
    "us-west3": ("Salt Lake City", 40.76, -111.89),
    "us-west4": ("Las Vegas", 36.17, -115.14),
    # regions GCE opened after Libcloud's price data
    "africa-south1": ("Johannesburg", -26.20, 28.05),
    "asia-south2": ("Delhi", 28.61, 77.21),
    "australia-southeast2": ("Melbourne", -37.81, 144.96),
    "europe-central2": ("Warsaw", 52.23, 21.01),
    "europe-north2": ("Stockholm", 59.33, 18.07),
    "europe-southwest1": ("Madrid", 40.42, -3.70),
    "europe-west8": ("Milan", 45.46, 9.19),
    "europe-west9": ("Paris", 48.86, 2.35),
    "europe-west10": ("Berlin", 52.52, 13.40),
    "europe-west12": ("Turin", 45.07, 7.69),
    "me-central1": ("Doha", 25.29, 51.53),
    "me-central2": ("Dammam, Saudi Arabia", 26.43, 50.10),
    "me-west1": ("Tel Aviv", 32.09, 34.78),
    "northamerica-northeast2": ("Toronto", 43.65, -79.38),
    "northamerica-south1": ("Queretaro, Mexico", 20.59, -100.39),
    "southamerica-west1": ("Santiago", -33.45, -70.67),
    "us-east5": ("Columbus, Ohio", 39.96, -83.00),
    "us-south1": ("Dallas", 32.78, -96.80),
}

ALIBABA_REGIONS: dict[str, Place] = {
    "cn-qingdao": ("China (Qingdao)", 36.07, 120.38),
    "cn-beijing": ("China (Beijing)", 39.90, 116.41),
    "cn-zhangjiakou": ("China (Zhangjiakou)", 40.77, 114.88),
    "cn-huhehaote": ("China (Hohhot)", 40.84, 111.75),
    "cn-wulanchabu": ("China (Ulanqab)", 41.03, 113.13),
    "cn-hangzhou": ("China (Hangzhou)", 30.27, 120.15),
    "cn-shanghai": ("China (Shanghai)", 31.23, 121.47),
    "cn-shenzhen": ("China (Shenzhen)", 22.54, 114.06),
    "cn-heyuan": ("China (Heyuan)", 23.74, 114.70),
    "cn-guangzhou": ("China (Guangzhou)", 23.13, 113.26),
    "cn-chengdu": ("China (Chengdu)", 30.57, 104.07),
    "cn-hongkong": ("China (Hong Kong)", 22.32, 114.17),
    "ap-northeast-1": ("Japan (Tokyo)", 35.68, 139.69),
    "ap-northeast-2": ("South Korea (Seoul)", 37.56, 126.98),
    "ap-southeast-1": ("Singapore", 1.35, 103.82),
    "ap-southeast-3": ("Malaysia (Kuala Lumpur)", 3.14, 101.69),
    "ap-southeast-5": ("Indonesia (Jakarta)", -6.21, 106.85),
    "ap-southeast-6": ("Philippines (Manila)", 14.60, 120.98),
    "ap-southeast-7": ("Thailand (Bangkok)", 13.76, 100.50),
    "us-east-1": ("US (Virginia, Ashburn)", 39.04, -77.49),
    "us-west-1": ("US (Silicon Valley, San Mateo)", 37.56, -122.32),
    "na-south-1": ("Mexico (Queretaro)", 20.59, -100.39),
    "eu-west-1": ("UK (London)", 51.51, -0.13),
    "eu-central-1": ("Germany (Frankfurt)", 50.11, 8.68),
    "me-east-1": ("UAE (Dubai)", 25.20, 55.27),
    "me-central-1": ("Saudi Arabia (Riyadh)", 24.71, 46.68),
}

OPENSTACK_REGIONS: dict[str, Place] = {
    "RegionOne": ("Daejeon", 36.35, 127.38),
    "RegionTwo": ("Seoul", 37.57, 126.98),
    "RegionThree": ("Busan", 35.18, 129.08),
}

CLOUDIT_REGIONS: dict[str, Place] = {
    "seoul-1": ("Seoul", 37.57, 126.98),
    "pangyo-1": ("Pangyo", 37.40, 127.11),
    "busan-1": ("Busan", 35.18, 129.08),
}
